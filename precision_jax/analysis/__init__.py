"""What is read back from the store: power-law fits, figures, the paper's reproduction and the guide."""
