"""Buying from suppliers: purchase orders, goods receipts and their inspection."""
