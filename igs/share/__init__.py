"""Sharing aggregate results between biobanks and meta-analysing them."""
