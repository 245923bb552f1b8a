"""Writing results: stable exports (:mod:`.export`), atomic writes (:mod:`.atomic`), JSON conversion
(:mod:`.jsonable`)."""
