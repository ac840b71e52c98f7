"""Build the optional C fast path of the FHIR ingest (kuntalib.fhir._scan); all other metadata is in pyproject.toml.

The extension is optional: where no C compiler is found the install goes on and the ingest uses
the pure-Python parser for every line (same results, slower; ``kuntalib.fhir.ingest.FAST_PATH`` says which).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("kuntalib.fhir._scan", ["kuntalib/fhir/_scan.c"], optional=True,
                             extra_compile_args=["-O2", "-std=c99", "-Wall", "-Wextra"])])
