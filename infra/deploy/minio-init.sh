#!/bin/sh
# One-shot MinIO set-up for FaceFleet (run by the minio-init compose service, mc image).
# Idempotent: it runs on every `docker compose up`. Creates the image bucket and an
# application account whose policy reaches that bucket only, so the API and workers
# never hold the MinIO root credentials.
set -eu

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "local/$S3_BUCKET"

policy_file=$(mktemp)
cat >"$policy_file" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow",
     "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::$S3_BUCKET"]},
    {"Effect": "Allow",
     "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
     "Resource": ["arn:aws:s3:::$S3_BUCKET/*"]}
  ]
}
JSON
mc admin policy create local facefleet-app "$policy_file"
rm -f "$policy_file"

# `user add` on an existing user only resets its secret: this is also how the app key rotates.
mc admin user add local "$S3_ACCESS_KEY" "$S3_SECRET_KEY"
if ! mc admin user info local "$S3_ACCESS_KEY" | grep -q "facefleet-app"; then
  mc admin policy attach local facefleet-app --user "$S3_ACCESS_KEY"
fi
echo "bucket $S3_BUCKET ready for $S3_ACCESS_KEY"
