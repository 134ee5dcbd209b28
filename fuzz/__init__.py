"""Coverage-guided fuzz targets (atheris/libFuzzer), one per parser of user input; see fuzz/run.py."""
