using System.Globalization;

namespace Pii.EtlWorker.Etl;

/// <summary>
/// The demo output of <c>--once --print</c>: one line per row processed by the pass, masked unless <c>--reveal</c>.
/// Only ever writes to the terminal it is given, never to logs.
/// </summary>
public sealed class RowPrinter(TextWriter output, bool reveal)
{
    public void Print(DecryptOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var row = outcome.Row;
        var flags = string.Create(CultureInfo.InvariantCulture, $"phone_dnc={row.PhoneDnc} email_dnc={row.EmailDnc} updated_at={row.UpdatedAt:O}");
        if (outcome.Contact is not { } c)
        {
            output.WriteLine($"{row.RecordId}  [quarantined: {outcome.QuarantineReason}]  {flags}");
            return;
        }

        var name = reveal
            ? string.Join(' ', new[] { c.FirstName, c.MiddleName, c.LastName }.Where(n => !string.IsNullOrEmpty(n)))
            : string.Join(' ', new[] { c.FirstName, c.MiddleName, c.LastName }.Where(n => !string.IsNullOrEmpty(n)).Select(ContactMasking.Name));
        var phone = reveal ? c.Phone : ContactMasking.Phone(c.Phone);
        var email = reveal ? c.Email : ContactMasking.Email(c.Email);
        output.WriteLine($"{row.RecordId}  {name}  {phone}  {email}  {flags}");
    }
}
