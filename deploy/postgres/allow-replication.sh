#!/bin/bash
# Lets the streaming replica of docker-compose.cluster.yml connect for replication
# (the image's pg_hba.conf admits ordinary connections from other hosts, not
# replication ones).
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
