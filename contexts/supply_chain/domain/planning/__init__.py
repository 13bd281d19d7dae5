"""Domain services that look ahead: stock-out forecasts and replenishment proposals."""
