"""The data provider's zone: validate an extract against its spec and split it into
File 1 (identifiers, for the trusted third party) and File 2 (content, for the databank)."""
