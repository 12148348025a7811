"""The version the server reports (GET /version, fleet version)."""

VERSION = "0.1.0"
BRANCH = "main"
REVISION = ""
BUILD_DATE = ""
BUILD_USER = ""
