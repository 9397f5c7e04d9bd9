"""FaceFleet command line, Python client and install-time tools."""
