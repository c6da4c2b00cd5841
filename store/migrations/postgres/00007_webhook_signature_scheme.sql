-- +goose Up
-- How a registered webhook's deliveries are signed: '' or 'cortex' (X-Cortex-Signature over the
-- body), 'standard-webhooks' (webhook-id, webhook-timestamp, webhook-signature).
ALTER TABLE webhooks ADD COLUMN signature_scheme TEXT COLLATE "C" NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE webhooks DROP COLUMN signature_scheme;
