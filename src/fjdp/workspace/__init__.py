"""Project workspaces: the only builder of what a researcher sees. A workspace holds
only its approved scope (``scope``), with linking fields re-keyed per project
(``provision``); revocation and expiry end it by destroying the project key
(``lifecycle``)."""
