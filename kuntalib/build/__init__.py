"""The papermill build: discover, validate, run, normalise, publish."""
