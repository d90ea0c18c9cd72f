using KeyPool.Usage;

namespace KeyPool.Tests.Usage;

public sealed class RequestHistoryTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 9, 8, 15, 20, TimeSpan.Zero);

    [Fact]
    public void Sample_FirstSightOfAGroup_IsItsBaseline_NotTraffic()
    {
        var history = new RequestHistory();

        history.Sample(Start, [(1, 5000), (2, 0)]);

        var snapshot = history.Read(Start);
        Assert.Equal([1, 2], snapshot.Groups.Select(g => g.Group));
        Assert.All(snapshot.Groups, g => Assert.All(g.Requests, count => Assert.Equal(0, count)));
    }

    [Fact]
    public void Sample_Growth_LandsInTheMinuteItWasSeen()
    {
        var history = new RequestHistory();
        history.Sample(Start, [(1, 10)]);

        history.Sample(Start.AddSeconds(5), [(1, 13)]);
        history.Sample(Start.AddSeconds(10), [(1, 14)]);
        history.Sample(Start.AddMinutes(2), [(1, 20)]);

        var snapshot = history.Read(Start.AddMinutes(2));
        var counts = snapshot.Groups.Single().Requests;
        Assert.Equal(RequestHistory.Minutes, counts.Count);
        Assert.Equal(RequestHistory.Minutes, snapshot.MinuteStarts.Count);
        Assert.Equal(new DateTimeOffset(2026, 11, 9, 8, 17, 0, TimeSpan.Zero), snapshot.MinuteStarts[^1]);
        Assert.Equal(6, counts[^1]);
        Assert.Equal(0, counts[^2]);
        Assert.Equal(4, counts[^3]);
        Assert.Equal(10, counts.Sum());
    }

    [Fact]
    public void Read_AnHourLater_TheOldMinutesAreGone()
    {
        var history = new RequestHistory();
        history.Sample(Start, [(1, 0)]);
        history.Sample(Start.AddSeconds(1), [(1, 7)]);

        Assert.Equal(7, history.Read(Start.AddMinutes(59)).Groups.Single().Requests.Sum());
        Assert.Equal(0, history.Read(Start.AddMinutes(60)).Groups.Single().Requests.Sum());

        // The slot of the old minute is reused, not added to.
        history.Sample(Start.AddMinutes(60), [(1, 9)]);
        Assert.Equal(2, history.Read(Start.AddMinutes(60)).Groups.Single().Requests[^1]);
    }

    [Fact]
    public void Sample_ATotalThatShrinks_CountsNothing_AndRestartsFromIt()
    {
        var history = new RequestHistory();
        history.Sample(Start, [(1, 10)]);

        history.Sample(Start.AddSeconds(5), [(1, 4)]);
        history.Sample(Start.AddSeconds(10), [(1, 6)]);

        Assert.Equal(2, history.Read(Start.AddSeconds(10)).Groups.Single().Requests.Sum());
    }
}
