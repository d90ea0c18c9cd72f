using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

if (args is ["user-usage-flush", .. var rest])
{
    await KeyPool.Benchmarks.UserUsageFlushMeasurement.RunAsync(rest);
    return;
}

// In-process and short: the whole bench (bench/run.sh) has to fit in 10 minutes on 2 cores.
var job = Job.Default
    .WithToolchain(InProcessEmitToolchain.Instance)
    .WithLaunchCount(1)
    .WithWarmupCount(2)
    .WithIterationCount(6);
BenchmarkSwitcher.FromAssembly(typeof(KeyPool.Benchmarks.RequestPathBenchmarks).Assembly).Run(args, DefaultConfig.Instance.AddJob(job));
