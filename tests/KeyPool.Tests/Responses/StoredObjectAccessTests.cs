using System.Text;
using KeyPool.Core.StoredObjects;
using KeyPool.StoredObjects;

namespace KeyPool.Tests.Responses;

/// <summary>Who may use a stored object, which requests refer to one or create one, and where an answer says what it created.</summary>
public sealed class StoredObjectAccessTests
{
    private static readonly StoredObject Alices = new("resp_1", StoredObjectKind.Response, "team-a", 1, "alice", DateTimeOffset.MaxValue);
    private static readonly StoredObject Backends = Alices with { UserId = null };

    [Theory]
    [InlineData(true, "alice", true)]   // a gateway key or JWT: its own
    [InlineData(true, "bob", false)]    // …never another user's
    [InlineData(false, "alice", true)]  // a client token acting for alice
    [InlineData(false, "bob", false)]   // …or for bob
    [InlineData(false, null, true)]     // a backend naming nobody: any
    public void MayUse_AUsersObject(bool endUser, string? user, bool allowed) =>
        Assert.Equal(allowed, StoredObjectAccess.MayUse(Alices, endUser, user));

    [Fact]
    public void MayUse_UnknownOrBackendsObject_NotByEndUsers()
    {
        Assert.False(StoredObjectAccess.MayUse(null, endUser: true, "alice"));
        Assert.True(StoredObjectAccess.MayUse(null, endUser: false, "alice"));
        Assert.False(StoredObjectAccess.MayUse(Backends, endUser: true, "alice"));
        Assert.True(StoredObjectAccess.MayUse(Backends, endUser: false, "alice"));
    }

    [Theory]
    [InlineData("POST", "/responses", """{"model":"m","previous_response_id":"resp_9","input":"hi"}""", "resp_9", StoredObjectKind.Response, true, false)]
    [InlineData("POST", "/responses", """{"model":"m","store":false,"input":[{"previous_response_id":"x"}]}""", null, StoredObjectKind.Response, false, false)]
    [InlineData("GET", "/responses/resp_9", "", "resp_9", StoredObjectKind.Response, false, false)]
    [InlineData("DELETE", "/responses/resp_9", "", "resp_9", StoredObjectKind.Response, false, true)]
    [InlineData("GET", "/chat/deferred-completion/abc-1", "", "abc-1", StoredObjectKind.Deferred, false, false)]
    [InlineData("POST", "/chat/completions", """{"model":"m","deferred":true,"messages":[]}""", null, StoredObjectKind.Deferred, true, false)]
    public void Read_FindsTheReferenceAndWhatIsCreated(string method, string path, string body, string? reference, StoredObjectKind kind, bool creates, bool deletes)
    {
        var request = StoredObjectRequest.Read(method, path, Encoding.UTF8.GetBytes(body));

        Assert.Equal(reference, request.ReferenceId);
        Assert.Equal(kind, request.ReferenceKind);
        Assert.Equal(creates ? kind : null, request.Creates);
        Assert.Equal(deletes, request.Deletes);
    }

    [Theory]
    [InlineData("POST", "/chat/completions", """{"model":"m","messages":[{"role":"user","content":"\"deferred\": true"}]}""")]
    [InlineData("POST", "/chat/completions", """{"model":"m","deferred":false}""")]
    [InlineData("GET", "/models", "")]
    [InlineData("GET", "/responses/resp_9/input_items", "")]
    public void Read_OtherRequests_TouchNothing(string method, string path, string body) =>
        Assert.False(StoredObjectRequest.Read(method, path, Encoding.UTF8.GetBytes(body)).Any);

    [Theory]
    [InlineData("""{"id":"resp_1","object":"response","output":[{"id":"msg_2"}]}""", "resp_1")]
    [InlineData("""{"object":"response","usage":{"id":"no"},"output":[{"id":"msg_2"}],"id":"resp_3"}""", "resp_3")]
    [InlineData("""{"request_id":"d-1"}""", "d-1")]
    [InlineData("""{"type":"response.created","sequence_number":0,"response":{"object":"response","id":"resp_4","output":[]}}""", "resp_4")]
    [InlineData("""{"id":"resp_5","output":[{"content":[{"text":"cut here""", "resp_5")]
    [InlineData("""{"output":[{"id":"msg_2"}]}""", null)]
    [InlineData("""not json""", null)]
    public void TryReadId_TheCreatedObjectsId(string json, string? id) =>
        Assert.Equal(id, CreatedIdCapture.TryReadId(Encoding.UTF8.GetBytes(json)));
}
