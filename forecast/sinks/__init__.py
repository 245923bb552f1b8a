"""Carbon sinks of ecosystems (:mod:`.ecosystems`: areas x sequestration rates x the CO2-fertilisation
multiplier) and net emissions and neutrality (:mod:`.neutrality`). The global land-sink model is
:mod:`forecast.models.sinks`."""
