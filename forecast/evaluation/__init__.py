"""How far to trust the models: the backtest (:mod:`.backtest`) and simulation-based calibration
(:mod:`.sbc`)."""
