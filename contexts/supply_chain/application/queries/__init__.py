"""The read side: queries, the views they return, and the ports that answer them."""
