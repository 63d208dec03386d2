-- One database per service (each could move to its own server).
CREATE DATABASE intake;
CREATE DATABASE customs;
CREATE DATABASE allocation;
