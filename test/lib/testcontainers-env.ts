/**
 * Imported before testcontainers, which reads these once. Ryuk (its reaper container) would be
 * pulled from Docker Hub, which sites without a registry cannot reach; the compose test takes its
 * stack down itself. The host override stops it pulling an image to find the Docker host's address
 * where /.dockerenv exists. A value the user set is kept.
 */
process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= "127.0.0.1";
