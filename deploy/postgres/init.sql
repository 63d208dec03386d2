-- Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d).
-- One database per service (each could move to its own server).
CREATE DATABASE intake;
CREATE DATABASE customs;
CREATE DATABASE allocation;
CREATE DATABASE reporting;
