using Microsoft.Extensions.Configuration;
using Pii.Crypto;
using Pii.EtlWorker.Auth;
using Pii.EtlWorker.Etl;

namespace Pii.EtlWorker.Tests;

/// <summary>The plain parts that need no server.</summary>
public sealed class UnitTests
{
    [Theory]
    [InlineData("+15551234567", "+1******4567")]
    [InlineData("+4915112345678", "+4********5678")]
    [InlineData("+1234567", "+1**4567")]
    public void Phone_mask_keeps_country_digit_and_last_four(string phone, string masked) =>
        Assert.Equal(masked, ContactMasking.Phone(phone));

    [Fact]
    public void Name_and_email_masks_match_the_form_api()
    {
        Assert.Equal("A***", ContactMasking.Name("Alice"));
        Assert.Equal("a***@example.com", ContactMasking.Email("alice@example.com"));
        Assert.Equal("***", ContactMasking.Email("@nolocal"));
    }

    [Theory]
    [InlineData(" Alice@Example.COM ", "alice@example.com")]
    [InlineData("a.b+c@sub.example.org", "a.b+c@sub.example.org")]
    public void Valid_emails_normalize(string input, string expected) => Assert.Equal(expected, EmailSyntax.Normalize(input));

    [Theory]
    [InlineData("")]
    [InlineData("no-at-sign")]
    [InlineData("a@b@c")]
    [InlineData("a b@example.com")]
    [InlineData("a@-example.com")]
    [InlineData("a@example..com")]
    public void Invalid_emails_are_rejected(string input) => Assert.Throws<MalformedInputException>(() => EmailSyntax.Normalize(input));

    [Fact]
    public void Long_hostile_email_is_rejected_in_linear_time()
    {
        var hostile = "a@" + string.Join('.', Enumerable.Repeat("a", 120)) + "!";
        Assert.Throws<MalformedInputException>(() => EmailSyntax.Normalize(hostile));
        Assert.Throws<MalformedInputException>(() => EmailSyntax.Normalize(new string('a', 300) + "@example.com"));
    }

    [Fact]
    public void Command_line_takes_its_flags_and_passes_the_rest_to_the_host()
    {
        var command = EtlCommandLine.Parse(["--once", "--urls", "http://127.0.0.1:0", "--print", "--reveal"]);
        Assert.Equal(new[] { true, true, true }, new[] { command.Once, command.Print, command.Reveal });
        Assert.Equal(["--urls", "http://127.0.0.1:0"], command.HostArguments);
        Assert.Throws<ArgumentException>(() => EtlCommandLine.Parse(["--print"]));
        Assert.Throws<ArgumentException>(() => EtlCommandLine.Parse(["--once", "--reveal"]));
    }

    [Fact]
    public void Watermark_id_bytes_are_rfc_9562_order()
    {
        var id = Guid.Parse("01890a5d-ac96-774b-bcce-b302099a8057");
        Assert.Equal(Convert.FromHexString("01890a5dac96774bbcceb302099a8057"), new Watermark(DateTime.UnixEpoch, id).IdBytes);
    }
}
