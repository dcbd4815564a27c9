"""Dev and demo tooling: the local Kafka broker, the HubSpot emulator, sample data."""
