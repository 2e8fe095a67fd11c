"""FactDesk: summary, attributed claims and uncertainty flags for news articles,
every one verified against the article text."""

__version__ = "0.1.0"
