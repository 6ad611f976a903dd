# Prints what a database server prints, then idles until brum stops it.
echo "2026-11-26 14:47:42.123 UTC [1] LOG:  starting PostgreSQL 16.4"
echo "2026-11-26 14:47:42.130 UTC [1] LOG:  listening on IPv4 address \"127.0.0.1\", port 5432"
echo "2026-11-26 14:47:42.140 UTC [1] LOG:  database system is ready to accept connections"
trap 'echo "2026-11-26 14:47:45.000 UTC [1] LOG:  received fast shutdown request"; exit 0' TERM
sleep 4 & wait
echo "2026-11-26 14:47:46.000 UTC [1] LOG:  checkpoint complete"
