"""PySpark jobs of the customer-journey pipeline."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("customer-journeys")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+source"
