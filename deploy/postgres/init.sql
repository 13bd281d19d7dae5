-- Run once, by the postgres image's entrypoint, when the data volume is empty
-- (docker-entrypoint-initdb.d). To run it again: docker compose down --volumes.
--
-- One login role per owner and one database per store: a context owns its data, so
-- its processes connect with their own role to databases that role owns, and never
-- see another context's tables. The passwords are for this local stack only.

-- supply_chain: the operational tables and the outbox (API, relay), and the
-- analytics read store of its data products (written by the worker, read by the API).
CREATE ROLE supply_chain WITH LOGIN PASSWORD 'supply_chain';
CREATE DATABASE supply_chain OWNER supply_chain;
CREATE DATABASE supply_chain_analytics OWNER supply_chain;

-- catalog: data products, their contracts, SLIs and lineage.
CREATE ROLE catalog WITH LOGIN PASSWORD 'catalog';
CREATE DATABASE catalog OWNER catalog;

-- Nobody but the owner connects to a context's database.
REVOKE CONNECT ON DATABASE supply_chain FROM PUBLIC;
REVOKE CONNECT ON DATABASE supply_chain_analytics FROM PUBLIC;
REVOKE CONNECT ON DATABASE catalog FROM PUBLIC;
