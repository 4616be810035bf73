"""The databank zone: loads File 2 + File 3 into catalogued, immutable dataset versions
with ALF_E (``load``), holds reference data (``reference``), and re-keys ALF_E under a
new bank key (``rotate``). It never sees an identifier and never stores a raw ALF."""
