using BenchmarkDotNet.Attributes;
using KeyPool.Core.Usage;

namespace KeyPool.Benchmarks;

/// <summary>
/// The per-request cost of usage per user (issue 13): <see cref="UserUsageRecorder.Record"/> for users that
/// already have a pending entry (the steady state: an entry lives while its user is active). Per request.
/// </summary>
[MemoryDiagnoser]
public class UserUsageBenchmarks
{
    private const int Batch = 4096;
    private const int Users = 100_000;

    private UserUsageRecorder _recorder = null!;
    private string[] _ids = null!;
    private int[] _order = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _recorder = new UserUsageRecorder(TimeProvider.System);
        _ids = Enumerable.Range(0, Users).Select(i => $"user-{i:D8}").ToArray();
        var random = new Random(1);
        _order = Enumerable.Range(0, Batch * 16).Select(_ => random.Next(Users)).ToArray();
        foreach (var id in _ids)
        {
            _recorder.Record(id, new UsageSample(1, 200, 1, 1, 0, 0, 2));
        }
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "user usage: Record")]
    public void Record()
    {
        var sample = new UsageSample(1, 200, 120, 40, 80, 20, 240);
        for (var i = 0; i < Batch; i++)
        {
            _recorder.Record(_ids[_order[_next++ & (_order.Length - 1)]], sample);
        }
    }
}
