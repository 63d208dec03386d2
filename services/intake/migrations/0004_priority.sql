-- Issue 10: a consignment's priority (routine, urgent, emergency), as announced or amended.
ALTER TABLE shipments ADD COLUMN priority text NOT NULL DEFAULT 'routine';
