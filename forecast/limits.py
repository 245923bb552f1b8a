"""Practical ranges of run settings, in a module that imports nothing, so that the command line can state
them in its options without loading the study schema (:mod:`forecast.run.study` uses the same numbers)."""

YEAR_RANGE = (1750, 2300)  # calendar years the data and scenarios can mean
MAX_DRAWS = 100_000  # per chain (sampler) or in total (forecast): beyond this a run does not fit in memory
MAX_CHAINS = 32
MAX_MC_DRAWS = 1_000_000  # Monte Carlo draws of an inventory (IPCC Approach 2): about 1 GB for 17 fuels

# Physical ranges of input data, checked when a panel, a scenario path or a CO2 path is read. Each bound is a
# generous multiple of the largest value ever recorded, so only unit or typing errors (people in millions,
# $ in trillions, an extra zero run wild) fail, never a real series.
MIN_POPULATION = 1.0  # people in one region-year: fewer than one person is no population
# world population 8.1e9 in 2023 (UN World Population Prospects 2024); largest country in the OWID panel:
# India 2023, 1.44e9
MAX_POPULATION = 1e10
# a scenario path may run to 2300: the UN WPP 2024 median peaks at 10.3e9 in the mid-2080s, so a path for the
# whole world gets twice that
MAX_SCENARIO_POPULATION = 2e10
# int-$ (2011 prices) per year: world GDP was 1.30e14 in 2022 (Maddison Project Database 2023, the OWID 'World'
# row); the largest country in the OWID panel is China 2022, 2.7e13
MAX_GDP = 1e15
# int-$ (2011) per person: the highest in the OWID panel (Maddison 2023) is Qatar 2011, 163,532
MAX_GDP_PER_CAPITA = 1e6
# Mt CO2/yr: world fossil + industry CO2 was 37,792 Mt in 2023 (Global Carbon Budget 2024, Friedlingstein et
# al. 2025, the OWID 'World' row); largest country: China 2023, 11,903 Mt. A whole-world row still passes.
MAX_CO2 = 1e5
# ratio between a region's consecutive values of population or GDP: the largest in the OWID panel are 3.5 (GDP,
# Kuwait 1991, the Gulf war) and 1.8 (population, Saudi Arabia 1950); a factor of 1,000 is a unit slip
MAX_JUMP = 1e3
# ppm: the lowest concentration of the last 800,000 years is about 172 ppm (Luthi et al. 2008, Nature 453,
# EPICA Dome C); the SSP5-8.5 extension exceeds 2,000 ppm by 2250 (Meinshausen et al. 2020, Geosci. Model
# Dev. 13); 5,000 ppm leaves room for any published pathway
PPM_RANGE = (150.0, 5000.0)
