/*
 * Sample-exact input for ngspice's shared library, with no Python in the simulation loop.
 *
 * ngspice calls these two functions at every time point of a transient analysis
 * (registered through ngSpice_Init_Sync by kaspix_spice.simulate):
 *
 *   kx_feed_source  answers `Vin input 0 external` with the input linearly interpolated
 *                   between samples (the GetVSRCData callback);
 *   kx_feed_sync    clamps every time step so that ngspice lands on each point of a grid of
 *                   `substeps` points per sample period, and stops a run past its deadline
 *                   (the GetSyncData callback).
 *
 * kx_feed_set points them at the input of the next run; the caller keeps the samples alive
 * until the run returns. One ngspice lives in each process, so the state is process-global.
 * This is a plain shared library loaded with ctypes, not a Python module.
 */
#include <time.h>

static const double *samples = 0;
static long sample_count = 0;
static double sample_rate = 1.0;
static double grid_step = 1.0;
static double deadline = 0.0;
static long sync_calls = 0;
static int timed_out = 0;

static double monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

void kx_feed_set(const double *x, long count, double fs, double grid, double timeout_s)
{
    samples = x;
    sample_count = count;
    sample_rate = fs;
    grid_step = grid;
    deadline = monotonic_seconds() + timeout_s;
    sync_calls = 0;
    timed_out = 0;
}

int kx_feed_timed_out(void)
{
    return timed_out;
}

int kx_feed_source(double *value, double t, char *name, int ident, void *user)
{
    (void)name, (void)ident, (void)user;
    if (sample_count <= 0) {
        *value = 0.0;
        return 0;
    }
    double position = t * sample_rate;
    if (position <= 0.0) {
        *value = samples[0];
        return 0;
    }
    long k = (long)position;
    if (k >= sample_count - 1) {
        *value = samples[sample_count - 1];
        return 0;
    }
    *value = samples[k] + (samples[k + 1] - samples[k]) * (position - (double)k);
    return 0;
}

int kx_feed_sync(double t, double *delta, double old_delta, int redo, int ident, int location, void *user)
{
    (void)old_delta, (void)redo, (void)ident, (void)user;
    if (location != 0)
        return 0;
    double to_grid = ((double)(long)(t / grid_step + 1e-6) + 1.0) * grid_step - t;
    if (*delta > to_grid)
        *delta = to_grid;
    if (++sync_calls % 512 == 0 && monotonic_seconds() > deadline) {
        timed_out = 1;
        *delta = 1e-30; /* ngspice then stops with "timestep too small" */
    }
    return 0;
}
