"""The papermill pipeline: discover, validate, run (steps once, renders per language), normalise, publish."""
