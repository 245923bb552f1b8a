"""Running a study: data sources, the stages a study runs through, and the orchestration
(:mod:`forecast.run.pipeline`). Each stage is a small module that checks its part of the study before any
sampling and then adds its part to the result."""
