DROP TABLE projection_tracking;
