"""The trusted third party's linkage: standardise identifiers, match records to the
population spine (deterministic steps, then Splink), assign linking fields and write
File 3 for the databank. Never sees content.
"""
