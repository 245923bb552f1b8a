"""What planners do with a forecast: carrying capacity under caps (:mod:`.capacity`), horizontal
compensation (:mod:`.compensation`), targets (:mod:`.targets`), inventories (:mod:`.inventory`)
and land-use carbon accounts (:mod:`.landuse`)."""
