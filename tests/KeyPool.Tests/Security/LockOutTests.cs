using System.Net;
using System.Security.Cryptography;
using KeyPool.Tests.Infrastructure;
using OpenAI.Chat;

namespace KeyPool.Tests.Security;

/// <summary>A guessing flood from one address (as behind a load balancer that is not a known proxy) never locks out valid callers from that address.</summary>
public sealed class LockOutTests
{
    [Fact]
    public async Task GuessingFlood_FromOneAddress_ValidCredentialsFromIt_KeepGetting200()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Auth:GatewayKeys:Enabled"] = "true",
        });
        var gatewayKey = (await gateway.IssueGatewayKeyAsync("alice")).GetProperty("key").GetString()!;
        var backend = gateway.ChatClient();
        var endUser = gateway.ChatClient(token: gatewayKey);
        string[] shapes = ["kp-", "sk-", "eyJhbGciOiJIUzI1NiJ9.e30."];
        var guesses = new List<HttpStatusCode>();
        var valid = 0;

        for (var round = 0; round < 12; round++)
        {
            // Eight guesses at once (unknown gateway keys, random tokens, forged JWTs), then one call with each valid credential.
            var flood = Enumerable.Range(0, 8).Select(async i =>
            {
                var guess = shapes[i % shapes.Length] + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
                using var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "mallory", token: guess));
                return response.StatusCode;
            });
            guesses.AddRange(await Task.WhenAll(flood));

            var asBackend = await backend.CompleteChatAsync([new UserChatMessage("Hello")], GatewayHarness.ForUser("bob"));
            var asEndUser = await endUser.CompleteChatAsync([new UserChatMessage("Hello")]);
            Assert.Equal(200, asBackend.GetRawResponse().Status);
            Assert.Equal(200, asEndUser.GetRawResponse().Status);
            valid += 2;
        }

        Assert.Equal(24, valid);
        Assert.All(guesses, status => Assert.Contains(status, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests }));
        Assert.True(guesses.Count(s => s == HttpStatusCode.TooManyRequests) >= 80, "the guesses past the free ones are refused"); // 96 guesses, 5 free, then the address waits
    }
}
