"""fjdp: the Family Justice Data Platform.

Links family-court records to population health and social data through a trusted
third party, so that no one party holds both who a person is and what happened to
them, and lets approved researchers study children's and families' pathways inside
a trusted research environment whose outputs are checked before they leave.
"""

__version__ = "0.1.0"
