"""m3-amazon: a self-hosted integration between Infor M3 and Amazon's Selling Partner API."""

__version__ = "0.1.0"
