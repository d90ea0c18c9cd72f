using KeyPool.Alerts;

namespace KeyPool.Tests.Alerts;

public sealed class AlertBookTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 3, 9, 0, 0, TimeSpan.Zero);
    private static readonly AlertCondition Revoked = new(AlertKinds.KeyRevoked, 3, "the upstream rejected the key of group 3");

    [Fact]
    public void Begins_Fires_Once_While_It_Holds_Then_Resolves()
    {
        var book = new AlertBook(TimeSpan.FromMinutes(15));

        var first = book.Update([Revoked], T0, "a");
        var held = Enumerable.Range(1, 30).SelectMany(s => book.Update([Revoked], T0.AddSeconds(s), "a")).ToList();
        var ended = book.Update([], T0.AddSeconds(31), "a");

        var fired = Assert.Single(first);
        Assert.Equal((AlertMessage.Firing, AlertKinds.KeyRevoked, 3), (fired.Status, fired.Kind, fired.KeyGroup));
        Assert.Empty(held);
        var resolved = Assert.Single(ended);
        Assert.Equal((AlertMessage.Resolved, 3, T0), (resolved.Status, resolved.KeyGroup, resolved.Since));
    }

    [Fact]
    public void Flapping_Is_Folded_To_One_Per_Interval_And_A_Folded_One_That_Still_Holds_Is_Sent_When_The_Interval_Ends()
    {
        var book = new AlertBook(TimeSpan.FromMinutes(15));
        var sent = new List<AlertMessage>();

        // On and off every 10 s for 5 minutes: only the first firing and its resolution go out.
        for (var s = 0; s < 300; s += 20)
        {
            sent.AddRange(book.Update([Revoked], T0.AddSeconds(s), "a"));
            sent.AddRange(book.Update([], T0.AddSeconds(s + 10), "a"));
        }
        Assert.Equal([AlertMessage.Firing, AlertMessage.Resolved], sent.Select(m => m.Status));

        // It comes back and stays: folded until 15 minutes after the first, then announced once.
        sent.Clear();
        for (var s = 300; s <= 1000; s++)
        {
            sent.AddRange(book.Update([Revoked], T0.AddSeconds(s), "a"));
        }
        var late = Assert.Single(sent);
        Assert.Equal(AlertMessage.Firing, late.Status);
        Assert.Equal(T0.AddMinutes(15), late.Time);
    }

    [Fact]
    public void Conditions_Are_Kept_Apart_By_Kind_And_Group()
    {
        var book = new AlertBook(TimeSpan.FromMinutes(15));
        var other = Revoked with { KeyGroup = 4 };
        var cooling = new AlertCondition(AlertKinds.KeyCooling, 3, "cooling");

        var messages = book.Update([Revoked, other, cooling], T0, "a");

        Assert.Equal(["key_revoked/3", "key_revoked/4", "key_cooling/3"], messages.Select(m => m.Id));
    }

    [Fact]
    public void Slack_Text_Names_The_Group_Reason_And_Time()
    {
        var message = new AlertMessage(AlertMessage.Firing, AlertKinds.KeyRevoked, 3, "the upstream rejected the key of group 3", T0, "gw-1", T0);

        Assert.Equal("[KeyPool] ALERT key_revoked (key group 3): the upstream rejected the key of group 3. At 2026-12-03 09:00:00Z on gw-1.", message.Text());
    }
}
