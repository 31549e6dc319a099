"""Business flows, one module each, readable top to bottom like the use case they implement."""
