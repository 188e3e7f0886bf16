CREATE TABLE IF NOT EXISTS bookings (
    id          serial PRIMARY KEY,
    customer    text NOT NULL,
    event_date  date NOT NULL,
    package     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO bookings (customer, event_date, package)
SELECT * FROM (VALUES
    ('Jansen wedding', DATE '2026-06-12', 'gold'),
    ('Sevensa summer party', DATE '2026-07-03', 'silver'),
    ('De Vries 50th birthday', DATE '2026-09-19', 'bronze')
) AS v(customer, event_date, package)
WHERE NOT EXISTS (SELECT 1 FROM bookings);
