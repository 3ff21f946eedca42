"""Device drivers: Modbus TCP and RTU, the umbilical controller, the weather station."""
