public enum EventStoreModule {}
