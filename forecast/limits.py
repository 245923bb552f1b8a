"""Practical ranges of run settings, in a module that imports nothing, so that the command line can state
them in its options without loading the study schema (:mod:`forecast.run.study` uses the same numbers)."""

YEAR_RANGE = (1750, 2300)  # calendar years the data and scenarios can mean
MAX_DRAWS = 100_000  # per chain (sampler) or in total (forecast): beyond this a run does not fit in memory
MAX_CHAINS = 32
MAX_MC_DRAWS = 1_000_000  # Monte Carlo draws of an inventory (IPCC Approach 2): about 1 GB for 17 fuels
