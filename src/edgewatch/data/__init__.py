"""Recordings of sensor readings: reading CSV/Parquet files and windowing their rows (stdlib and numpy;
pyarrow only for Parquet, imported when a Parquet file is read)."""
