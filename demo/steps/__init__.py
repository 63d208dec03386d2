"""One function per step of a consignment's way, by service; ``replay`` lists them in order."""
