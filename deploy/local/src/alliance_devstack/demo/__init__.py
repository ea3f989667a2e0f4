"""`alliance demo`: the alliance at work, narrated, through the public APIs and Kafka."""
